-- Each person's first recording (earliest loaded BARU row): one row per person_id.
with recording as (
    select * from core.recording
),

baru as (
    select * from recording where jenis_rekam = 'BARU'
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
