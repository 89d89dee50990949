-- Population snapshot totals: one row per snapshot_date x desa.
with penduduk as (
    select * from staging.penduduk
),

final as (
    select
        snapshot_date,
        kode_desa,
        cast(wajib_ktp_lk + wajib_ktp_pr as bigint)     as wajib_ktp,
        cast(sudah_rekam_lk + sudah_rekam_pr as bigint) as sudah_rekam
    from penduduk
)

select * from final
