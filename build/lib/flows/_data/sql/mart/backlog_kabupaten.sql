-- Regency backlog (Kabupaten OKU Selatan): one row per as-of date, the sum of its kecamatan in mart.backlog_kecamatan.
with backlog_kecamatan as (
    select * from mart.backlog_kecamatan
),

summed as (
    select
        as_of_date,
        sum(wajib_ktp)   as wajib_ktp,
        sum(sudah_rekam) as sudah_rekam,
        sum(belum_rekam) as belum_rekam
    from backlog_kecamatan
    group by all
),

final as (
    select
        cast(as_of_date as date)     as as_of_date,
        cast(wajib_ktp as bigint)    as wajib_ktp,
        cast(sudah_rekam as bigint)  as sudah_rekam,
        cast(belum_rekam as bigint)  as belum_rekam,
        cast(case when wajib_ktp = 0 then null else round(100.0 * sudah_rekam / wajib_ktp, 2) end as double) as pct_rekam
    from summed
)

select * from final order by as_of_date
