-- The days off of the range (mart.kalender: national holidays and cuti bersama, by name) and how many kecamatan were flagged diduga_alat_rusak on each.
select
    kalender.tanggal,
    kalender.keterangan,
    kalender.jenis_libur,
    count(*) filter (where service.diduga_alat_rusak) as kecamatan_diduga_alat_rusak
from mart.kalender as kalender
left join mart.kecamatan_service as service on service.as_of_date = kalender.tanggal
where not kalender.hari_kerja and kalender.keterangan is not null
group by all
order by kalender.tanggal
