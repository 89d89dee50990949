-- Persons recorded for the first time while wajib KTP, running total per desa: one row per desa x tanggal with such first recordings.
with first_recording as (
    select * from core.first_recording where wajib_ktp
),

daily as (
    select kode_desa, tanggal_rekam as tanggal, count(*) as rekam_wajib
    from first_recording
    group by all
),

running as (
    select
        kode_desa,
        tanggal,
        rekam_wajib,
        cast(sum(rekam_wajib) over (partition by kode_desa order by tanggal) as bigint) as rekam_wajib_kumulatif
    from daily
),

final as (
    -- the dates this build rebuilds (core.build_scope, written by the model runner)
    select * from running where tanggal >= (select first_date from core.build_scope)
)

select * from final
