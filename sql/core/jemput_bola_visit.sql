-- Jemput bola (outreach) visits: one row per desa x tanggal with a loaded JEMPUT_BOLA row (any jenis_rekam) of a resident of that desa.
with recording as (
    select * from core.recording
),

final as (
    select
        kode_desa,
        tanggal_rekam       as tanggal,
        count(*)            as rekam
    from recording
    where lokasi_rekam = 'JEMPUT_BOLA'
      and tanggal_rekam >= (select first_date from core.build_scope)   -- the dates this build rebuilds
    group by all
)

select * from final
