-- Kecamatan dimension: one row per kode_kecamatan of the area (19 for OKU Selatan), with its kab/kota.
with wilayah as (
    select * from staging.wilayah
),

kabupaten as (
    select * from core.kabupaten
),

final as (
    select
        kabupaten.kode_kabupaten,
        kabupaten.nama_kabupaten,
        wilayah.kode  as kode_kecamatan,
        wilayah.nama  as nama_kecamatan
    from wilayah
    join kabupaten on kabupaten.kode_kabupaten = wilayah.kode_kabupaten
    where wilayah.jenis = 'kecamatan'
)

select * from final
