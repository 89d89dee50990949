-- Recording devices: one row per as-of date (the dates of the marts' range) x kab/kota x id_alat seen on or before it.
-- A device is an id_alat within a kab/kota: the kab/kota of the kecamatan whose log listed the row (the same id in two
-- kab/kota is two devices). kode_kecamatan: the kecamatan whose log listed the device on terakhir_aktif (several: the
-- smallest code). diam: silent, hari_diam >= mart.ambang_batas.hari_diam_alat (the one definition of a silent device).
with per_day as (
    select kode_kabupaten, id_alat, tanggal, sum(rekam) as rekam, min(kode_kecamatan) as kode_kecamatan
    from core.device_daily
    group by all
),

cut as (
    -- the earliest date a rebuilt date looks back to (its week before); the days up to it are summed into
    -- one row per device, on its last such day, so the running totals below equal those over every day
    select first_date - 7 as cut_date from core.build_scope
),

kept as (
    select kode_kabupaten, id_alat, tanggal, rekam, kode_kecamatan
    from per_day where tanggal > (select cut_date from cut)
    union all
    select kode_kabupaten, id_alat, max(tanggal), sum(rekam), arg_max(kode_kecamatan, tanggal)
    from per_day where tanggal <= (select cut_date from cut)
    group by kode_kabupaten, id_alat
),

cumulative as (
    select *, sum(rekam) over (partition by kode_kabupaten, id_alat order by tanggal) as kumulatif
    from kept
),

first_seen as (
    select kode_kabupaten, id_alat, min(tanggal) as pertama_aktif from per_day group by all
),

grid as (
    select spine.tanggal as as_of_date, spine.tanggal - 7 as week_before,
           first_seen.kode_kabupaten, first_seen.id_alat, first_seen.pertama_aktif
    from core.date_spine as spine
    join first_seen on first_seen.pertama_aktif <= spine.tanggal
    where spine.tanggal >= (select first_date from core.build_scope)   -- the dates this build rebuilds
),

latest as (
    select grid.*, cumulative.tanggal as terakhir_aktif, cumulative.kode_kecamatan, cumulative.kumulatif
    from grid
    asof join cumulative
        on cumulative.kode_kabupaten = grid.kode_kabupaten and cumulative.id_alat = grid.id_alat
       and cumulative.tanggal <= grid.as_of_date
),

with_week as (
    -- rekam_7h: rows dated as_of_date-6 .. as_of_date = the running total now minus the one a week before
    select latest.*, coalesce(before.kumulatif, 0) as kumulatif_sebelum
    from latest
    asof left join cumulative as before
        on before.kode_kabupaten = latest.kode_kabupaten and before.id_alat = latest.id_alat
       and before.tanggal <= latest.week_before
),

ambang as (
    select hari_diam_alat from mart.ambang_batas
),

final as (
    select
        cast(as_of_date as date)                       as as_of_date,
        kode_kabupaten,
        id_alat,
        kode_kecamatan,
        cast(pertama_aktif as date)                    as pertama_aktif,
        cast(terakhir_aktif as date)                   as terakhir_aktif,
        cast(as_of_date - terakhir_aktif as integer)   as hari_diam,
        cast(kumulatif - kumulatif_sebelum as bigint)  as rekam_7h,
        as_of_date - terakhir_aktif >= ambang.hari_diam_alat as diam
    from with_week
    cross join ambang
)

select * from final order by as_of_date, kode_kabupaten, id_alat
