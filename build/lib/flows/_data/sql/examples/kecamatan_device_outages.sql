-- Spells when a kecamatan office seemed to have no working device (diduga_alat_rusak: mart.ambang_batas.hari_kerja_alat_rusak or more working days, mart.kalender, without a KECAMATAN recording), and how residents were recorded meanwhile.
with flagged as (
    select
        kode_kecamatan,
        nama_kecamatan,
        as_of_date,
        diduga_alat_rusak,
        as_of_date - cast(row_number() over (partition by kode_kecamatan, diduga_alat_rusak order by as_of_date) as integer) as spell
    from mart.kecamatan_service
),

spells as (
    select kode_kecamatan, nama_kecamatan, min(as_of_date) as dari, max(as_of_date) as sampai, count(*) as hari
    from flagged
    where diduga_alat_rusak
    group by kode_kecamatan, nama_kecamatan, spell
)

select
    spells.*,
    sum(trend.rekam_dinas)       as rekam_dinas,
    sum(trend.rekam_jemput_bola) as rekam_jemput_bola,
    sum(trend.rekam_kecamatan)   as rekam_kecamatan
from spells
join mart.participation_trend as trend
    on trend.kode_kecamatan = spells.kode_kecamatan and trend.tanggal between spells.dari and spells.sampai
group by all
order by spells.dari, spells.kode_kecamatan
