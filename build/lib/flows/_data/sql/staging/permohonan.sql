-- Village requests for an outreach team (current file versions): one row per request (kode_desa x nomor_surat x registration date).
with source as (
    select * from landing.permohonan
),

final as (
    select
        tanggal_daftar,
        kode_desa,
        tanggal_surat,
        nomor_surat,
        upper(nomor_surat)             as nomor_surat_key,   -- compared case-insensitively
        cast(perkiraan_warga as integer) as perkiraan_warga,
        source_file,
        line_number
    from source
)

select * from final
