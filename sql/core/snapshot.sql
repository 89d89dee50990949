-- Population snapshot totals: one row per snapshot_date x desa. Where an area snapshot and a kab/kota snapshot of the
-- same cut-off date both hold a desa, the kab/kota snapshot counts (contract section 6).
with penduduk as (
    select * from staging.penduduk
),

ranked as (
    select
        *,
        row_number() over (
            partition by snapshot_date, kode_desa
            order by (cakupan_kabupaten is not null) desc, source_file
        ) as rn
    from penduduk
),

final as (
    select
        snapshot_date,
        kode_desa,
        cast(wajib_ktp_lk + wajib_ktp_pr as bigint)     as wajib_ktp,
        cast(sudah_rekam_lk + sudah_rekam_pr as bigint) as sudah_rekam,
        source_file
    from ranked
    where rn = 1
)

select * from final
