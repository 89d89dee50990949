-- Each person's first recording (earliest loaded BARU row): one row per person_id.
with recording as (
    select * from core.recording
),

scope as (
    -- the persons this build rebuilds (core.build_scope, core.build_persons: written by the model runner)
    select rebuild_all from core.build_scope
),

baru as (
    select * from recording
    where jenis_rekam = 'BARU'
      and ((select rebuild_all from scope) or person_id in (select person_id from core.build_persons))
),

ranked as (
    select
        *,
        row_number() over (
            partition by person_id
            order by waktu_rekam, source_file, line_number
        ) as rn
    from baru
),

final as (
    select
        person_id,
        waktu_rekam,
        tanggal_rekam,
        lokasi_rekam,
        kode_desa,
        kode_kecamatan,
        jenis_kelamin,
        umur,
        status_kawin,
        wajib_ktp
    from ranked
    where rn = 1
)

select * from final
