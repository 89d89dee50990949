-- Desa/kelurahan dimension: one row per kode_desa of the area (259 for OKU Selatan), with its kecamatan and kab/kota.
with wilayah as (
    select * from staging.wilayah
),

desa as (
    select * from wilayah where jenis in ('desa', 'kelurahan')
),

kecamatan as (
    select * from core.kecamatan
),

final as (
    select
        desa.kode                 as kode_desa,
        desa.nama                 as nama_desa,
        desa.jenis                as jenis,
        desa.kode_kecamatan       as kode_kecamatan,
        kecamatan.nama_kecamatan  as nama_kecamatan,
        kecamatan.kode_kabupaten  as kode_kabupaten,
        kecamatan.nama_kabupaten  as nama_kabupaten
    from desa
    join kecamatan on kecamatan.kode_kecamatan = desa.kode_kecamatan
)

select * from final
