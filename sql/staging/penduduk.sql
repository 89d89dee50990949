-- Population snapshots (current versions): one row per snapshot file x desa.
-- cakupan_kabupaten: the kab/kota a snapshot penduduk/<date>/<kode_kabupaten>.csv covers; null for penduduk/<date>.csv (the whole area).
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
        source_file,
        nullif(regexp_extract(source_file, '^penduduk/[0-9]{4}-[0-9]{2}-[0-9]{2}/([0-9]{2}\.[0-9]{2})\.csv$', 1), '')
            as cakupan_kabupaten
    from source
)

select * from final
