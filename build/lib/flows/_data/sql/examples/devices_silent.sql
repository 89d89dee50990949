-- Recording devices silent on the latest date (diam: hari_diam of mart.ambang_batas.hari_diam_alat or more): which kecamatan listed them last, and since when.
select
    device.id_alat,
    device.kode_kecamatan,
    kecamatan.nama_kecamatan,
    device.pertama_aktif,
    device.terakhir_aktif,
    device.hari_diam
from mart.device_activity as device
left join core.kecamatan as kecamatan on kecamatan.kode_kecamatan = device.kode_kecamatan
where device.as_of_date = (select max(as_of_date) from mart.device_activity)
  and device.diam
order by device.hari_diam desc, device.id_alat
