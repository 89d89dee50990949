-- Current version of every raw file seen: one row per source_file (superseded versions left out).
with source as (
    select * from audit.file_loads
),

final as (
    select
        source_file,
        sha256,
        status,
        kind,
        log_date,
        kode_kecamatan,
        rows_loaded,
        rows_quarantined,
        error
    from source
    where status <> 'superseded'
)

select * from final
