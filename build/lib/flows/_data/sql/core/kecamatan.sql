-- Kecamatan dimension: one row per kode_kecamatan (19).
with wilayah as (
    select * from staging.wilayah
),

final as (
    select
        kode      as kode_kecamatan,
        nama      as nama_kecamatan,
        kode_bps  as kode_bps
    from wilayah
    where jenis = 'kecamatan'
)

select * from final
