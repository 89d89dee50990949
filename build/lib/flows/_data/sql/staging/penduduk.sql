-- Population snapshots (current versions): one row per snapshot_date x desa.
with source as (
    select * from landing.penduduk
),

final as (
    select
        snapshot_date,
        kode_desa,
        wajib_ktp_lk,
        wajib_ktp_pr,
        sudah_rekam_lk,
        sudah_rekam_pr,
        source_file
    from source
)

select * from final
