-- Backlog per kab/kota: one row per as-of date x kab/kota whose desa have rows in mart.backlog, the sum of its kecamatan in mart.backlog_kecamatan (pct_rekam from the sums).
with backlog_kecamatan as (
    select * from mart.backlog_kecamatan
),

summed as (
    select
        as_of_date,
        kode_kabupaten,
        nama_kabupaten,
        sum(wajib_ktp)   as wajib_ktp,
        sum(sudah_rekam) as sudah_rekam,
        sum(belum_rekam) as belum_rekam
    from backlog_kecamatan
    group by all
),

final as (
    select
        cast(as_of_date as date)     as as_of_date,
        kode_kabupaten,
        nama_kabupaten,
        cast(wajib_ktp as bigint)    as wajib_ktp,
        cast(sudah_rekam as bigint)  as sudah_rekam,
        cast(belum_rekam as bigint)  as belum_rekam,
        cast(case when wajib_ktp = 0 then null else round(100.0 * sudah_rekam / wajib_ktp, 2) end as double) as pct_rekam
    from summed
)

select * from final order by as_of_date, kode_kabupaten
