-- Projected completion per kecamatan on the latest date, at the pace of the last 7 days (see docs/data_dictionary.md).
select
    kode_kecamatan,
    nama_kecamatan,
    belum_rekam,
    round(laju_rekam_7h, 2)  as laju_rekam_7h,
    proyeksi_tuntas,
    case when proyeksi_tuntas is null then 'no projection: no new wajib-KTP recordings in the last 7 days' end as catatan
from mart.participation_trend
where tanggal = (select max(tanggal) from mart.participation_trend)
order by proyeksi_tuntas desc nulls first, belum_rekam desc
