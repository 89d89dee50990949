-- Is each kecamatan office still recording: one row per as-of date (the dates of the marts' range) x kecamatan.
-- hari_kerja_tanpa_rekam: working days (mart.kalender: Monday-Friday that are no national holiday or cuti bersama) after
-- the last KECAMATAN row in the kecamatan's own logs up to the date, or from the first date of the range when there is
-- none (a recording on a day off counts as a recording); diduga_alat_rusak from mart.ambang_batas.hari_kerja_alat_rusak.
with spine as (
    select
        tanggal,
        tanggal - 6 as week_start,
        sum(case when hari_kerja then 1 else 0 end) over (order by tanggal) as hari_kerja_kumulatif
    from mart.kalender
),

ambang as (
    select hari_kerja_alat_rusak from mart.ambang_batas
),

office_days as (
    -- dates with a loaded KECAMATAN row in the kecamatan's own log (a recording on a weekend or a holiday counts)
    select kode_kecamatan, tanggal from core.device_daily where rekam_kecamatan > 0 group by all
),

office_devices as (
    select kode_kecamatan, tanggal, id_alat from core.device_daily where rekam_kecamatan > 0
),

grid as (
    select spine.*, kecamatan.kode_kabupaten, kecamatan.kode_kecamatan, kecamatan.nama_kecamatan
    from spine
    cross join core.kecamatan as kecamatan
    where spine.tanggal >= (select first_date from core.build_scope)   -- the dates this build rebuilds
),

last_office_day as (
    select grid.*, office_days.tanggal as rekam_kecamatan_terakhir
    from grid
    asof left join office_days
        on office_days.kode_kecamatan = grid.kode_kecamatan and office_days.tanggal <= grid.tanggal
),

with_weekdays as (
    select
        last_office_day.*,
        last_office_day.hari_kerja_kumulatif - coalesce(at_last.hari_kerja_kumulatif, 0) as hari_kerja_tanpa_rekam
    from last_office_day
    left join spine as at_last on at_last.tanggal = last_office_day.rekam_kecamatan_terakhir
),

devices as (
    select grid.tanggal, grid.kode_kecamatan, count(distinct office_devices.id_alat) as perangkat_aktif_7h
    from grid
    join office_devices
        on office_devices.kode_kecamatan = grid.kode_kecamatan
       and office_devices.tanggal between grid.week_start and grid.tanggal
    group by all
),

final as (
    select
        cast(with_weekdays.tanggal as date)                       as as_of_date,
        with_weekdays.kode_kabupaten,
        with_weekdays.kode_kecamatan,
        with_weekdays.nama_kecamatan,
        cast(with_weekdays.rekam_kecamatan_terakhir as date)      as rekam_kecamatan_terakhir,
        cast(with_weekdays.hari_kerja_tanpa_rekam as integer)     as hari_kerja_tanpa_rekam,
        cast(coalesce(devices.perangkat_aktif_7h, 0) as integer)  as perangkat_aktif_7h,
        with_weekdays.hari_kerja_tanpa_rekam >= ambang.hari_kerja_alat_rusak as diduga_alat_rusak
    from with_weekdays
    cross join ambang
    left join devices
        on devices.tanggal = with_weekdays.tanggal and devices.kode_kecamatan = with_weekdays.kode_kecamatan
)

select * from final order by as_of_date, kode_kecamatan
