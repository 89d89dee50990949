-- Working days (contract section 10): one row per tanggal (every date of the marts' range, core.date_spine).
-- hari_kerja: a Monday to Friday that is neither a national public holiday nor a cuti bersama day, as the pinned holiday
-- package has them (core.hari_libur, written by the model runner: flows/workdays.py). keterangan: the day off's name in
-- Indonesian (null on an ordinary day and on a weekend). In a year the package does not know (kalender_dikenal false:
-- no decree of its collective leave in the package) only Saturdays and Sundays are off.
with spine as (
    select tanggal from core.date_spine
),

libur as (
    select tanggal, keterangan, jenis from core.hari_libur
),

tahun as (
    select tahun, dikenal from core.kalender_tahun
),

final as (
    select
        cast(spine.tanggal as date)                                   as tanggal,
        isodow(spine.tanggal) <= 5 and libur.tanggal is null          as hari_kerja,
        cast(libur.keterangan as varchar)                             as keterangan,
        cast(libur.jenis as varchar)                                  as jenis_libur,
        coalesce(tahun.dikenal, false)                                as kalender_dikenal
    from spine
    left join libur on libur.tanggal = spine.tanggal
    left join tahun on tahun.tahun = year(spine.tanggal)
)

select * from final order by tanggal
