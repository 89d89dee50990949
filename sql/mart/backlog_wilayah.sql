-- Backlog of the whole area: one row per as-of date of mart.backlog_kabupaten, the sum of its kab/kota (pct_rekam from the sums, never averaged).
-- jumlah_kabupaten: the kab/kota with rows at the date (a kab/kota has none before its first snapshot).
with backlog_kabupaten as (
    select * from mart.backlog_kabupaten
),

summed as (
    select
        as_of_date,
        count(*)         as jumlah_kabupaten,
        sum(wajib_ktp)   as wajib_ktp,
        sum(sudah_rekam) as sudah_rekam,
        sum(belum_rekam) as belum_rekam
    from backlog_kabupaten
    group by all
),

final as (
    select
        cast(as_of_date as date)         as as_of_date,
        cast(jumlah_kabupaten as integer) as jumlah_kabupaten,
        cast(wajib_ktp as bigint)        as wajib_ktp,
        cast(sudah_rekam as bigint)      as sudah_rekam,
        cast(belum_rekam as bigint)      as belum_rekam,
        cast(case when wajib_ktp = 0 then null else round(100.0 * sudah_rekam / wajib_ktp, 2) end as double) as pct_rekam
    from summed
)

select * from final order by as_of_date
