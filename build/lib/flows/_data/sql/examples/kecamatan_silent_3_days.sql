-- Kecamatan silent for three days or more in a row: no log, a rejected log, or a log with no loaded row.
with days as (
    select
        kode_kecamatan,
        nama_kecamatan,
        tanggal,
        (status <> 'loaded' or rows_loaded = 0) as silent
    from mart.log_completeness
),

islands as (
    select
        *,
        tanggal - cast(row_number() over (partition by kode_kecamatan, silent order by tanggal) as integer) as island
    from days
),

runs as (
    select kode_kecamatan, nama_kecamatan, min(tanggal) as dari, max(tanggal) as sampai, count(*) as hari
    from islands
    where silent
    group by kode_kecamatan, nama_kecamatan, island
)

select * from runs where hari >= 3 order by hari desc, kode_kecamatan, dari
