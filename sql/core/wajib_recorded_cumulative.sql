-- Persons recorded for the first time while wajib KTP, running total per desa: one row per desa x tanggal with such first recordings.
-- Incremental: only the dates this build rebuilds (core.build_scope, written by the model runner) are counted day by day;
-- the running total starts from the persons first recorded before them (one count per desa, not a window over every date).
with first_recording as (
    select * from core.first_recording where wajib_ktp
),

before as (
    select kode_desa, count(*) as rekam_wajib_sebelum
    from first_recording
    where tanggal_rekam < (select first_date from core.build_scope)
    group by all
),

daily as (
    select kode_desa, tanggal_rekam as tanggal, count(*) as rekam_wajib
    from first_recording
    where tanggal_rekam >= (select first_date from core.build_scope)
    group by all
),

final as (
    select
        daily.kode_desa,
        daily.tanggal,
        daily.rekam_wajib,
        cast(coalesce(before.rekam_wajib_sebelum, 0)
             + sum(daily.rekam_wajib) over (partition by daily.kode_desa order by daily.tanggal) as bigint) as rekam_wajib_kumulatif
    from daily
    left join before using (kode_desa)
)

select * from final
