-- New recordings (first recordings) per ISO week and kecamatan, and the change against the week before.
with weekly as (
    select
        kode_kecamatan,
        nama_kecamatan,
        cast(date_trunc('week', tanggal) as date) as minggu,
        count(*)                                  as hari,
        sum(rekam_baru)                           as rekam_baru
    from mart.participation_trend
    group by all
)

select
    kode_kecamatan,
    nama_kecamatan,
    minggu,
    hari,
    rekam_baru,
    rekam_baru - lag(rekam_baru) over (partition by kode_kecamatan order by minggu) as selisih_minggu_lalu,
    round(100.0 * (rekam_baru - lag(rekam_baru) over (partition by kode_kecamatan order by minggu))
          / nullif(lag(rekam_baru) over (partition by kode_kecamatan order by minggu), 0), 1) as pct_perubahan
from weekly
order by kode_kecamatan, minggu
