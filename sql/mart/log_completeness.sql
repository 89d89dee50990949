-- Log completeness: one row per tanggal x kecamatan; status of the file rekam/<tanggal>/<kode_kecamatan>.csv.
with spine as (
    -- the dates this build rebuilds (core.build_scope, written by the model runner)
    select tanggal from core.date_spine where tanggal >= (select first_date from core.build_scope)
),

grid as (
    select spine.tanggal, kecamatan.kode_kabupaten, kecamatan.kode_kecamatan, kecamatan.nama_kecamatan
    from spine
    cross join core.kecamatan as kecamatan
),

files as (
    select * from staging.file_loads where kind = 'rekam'
),

final as (
    select
        cast(grid.tanggal as date)                 as tanggal,
        grid.kode_kabupaten,
        grid.kode_kecamatan,
        grid.nama_kecamatan,
        coalesce(files.status, 'missing')          as status,
        cast(coalesce(files.rows_loaded, 0) as bigint)      as rows_loaded,
        cast(coalesce(files.rows_quarantined, 0) as bigint) as rows_quarantined,
        files.error                                as error
    from grid
    left join files
        on files.source_file = 'rekam/' || strftime(grid.tanggal, '%Y-%m-%d') || '/' || grid.kode_kecamatan || '.csv'
)

select * from final order by tanggal, kode_kecamatan
