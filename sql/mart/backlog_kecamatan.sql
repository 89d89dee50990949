-- Backlog per kecamatan: one row per as-of date x kecamatan, the sum of its desa in mart.backlog (pct_rekam from the sums).
with backlog as (
    select * from mart.backlog
),

summed as (
    select
        as_of_date,
        kode_kabupaten,
        nama_kabupaten,
        kode_kecamatan,
        nama_kecamatan,
        sum(wajib_ktp)   as wajib_ktp,
        sum(sudah_rekam) as sudah_rekam,
        sum(belum_rekam) as belum_rekam
    from backlog
    group by all
),

final as (
    select
        cast(as_of_date as date)     as as_of_date,
        kode_kabupaten,
        nama_kabupaten,
        kode_kecamatan,
        nama_kecamatan,
        cast(wajib_ktp as bigint)    as wajib_ktp,
        cast(sudah_rekam as bigint)  as sudah_rekam,
        cast(belum_rekam as bigint)  as belum_rekam,
        cast(case when wajib_ktp = 0 then null else round(100.0 * sudah_rekam / wajib_ktp, 2) end as double) as pct_rekam
    from summed
)

select * from final order by as_of_date, kode_kecamatan
