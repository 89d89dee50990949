-- Kab/kota dimension: one row per kode_kabupaten of the area (1 for OKU Selatan, 17 for the province 16).
with wilayah as (
    select * from staging.wilayah
),

final as (
    select
        kode   as kode_kabupaten,
        nama   as nama_kabupaten,
        jenis  as jenis
    from wilayah
    where jenis in ('kabupaten', 'kota')
)

select * from final
