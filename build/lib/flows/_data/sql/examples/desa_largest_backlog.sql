-- The 20 desa/kelurahan with the largest backlog (belum rekam) on the latest date: where to send a team next.
select
    kode_desa,
    nama_desa,
    nama_kecamatan,
    wajib_ktp,
    sudah_rekam,
    belum_rekam,
    pct_rekam
from mart.backlog
where as_of_date = (select max(as_of_date) from mart.backlog)
order by belum_rekam desc, kode_desa
limit 20
