-- Loaded recording rows of current file versions: one row per recording event (source_file x line_number).
with source as (
    select * from landing.rekam
),

final as (
    select
        person_id,
        jenis_kelamin,
        cast(umur as integer)              as umur,
        status_kawin,
        kode_desa,
        waktu_rekam,
        cast(waktu_rekam as date)          as tanggal_rekam,
        jenis_rekam,
        lokasi_rekam,
        id_alat,
        source_file,
        file_sha256,
        line_number,
        run_id
    from source
)

select * from final
