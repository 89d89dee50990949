-- Running count of persons whose first recording made them newly recorded wajib KTP: one row per desa x tanggal with such recordings.
with first_recording as (
    select * from core.first_recording where wajib_ktp
),

daily as (
    select kode_desa, tanggal_rekam as tanggal, count(*) as baru_wajib
    from first_recording
    group by all
),

final as (
    select
        kode_desa,
        tanggal,
        baru_wajib,
        cast(sum(baru_wajib) over (partition by kode_desa order by tanggal) as bigint) as baru_wajib_kumulatif
    from daily
)

select * from final
