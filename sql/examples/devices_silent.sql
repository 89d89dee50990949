-- Recording devices silent for 7 days or more on the latest date: which kecamatan listed them last, and since when.
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
  and device.hari_diam >= 7
order by device.hari_diam desc, device.id_alat
