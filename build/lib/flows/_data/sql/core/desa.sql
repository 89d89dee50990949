-- Desa/kelurahan dimension: one row per kode_desa (259), with its kecamatan.
with wilayah as (
    select * from staging.wilayah
),

desa as (
    select * from wilayah where jenis in ('desa', 'kelurahan')
),

kecamatan as (
    select * from wilayah where jenis = 'kecamatan'
),

final as (
    select
        desa.kode            as kode_desa,
        desa.nama            as nama_desa,
        desa.jenis           as jenis,
        desa.kode_kecamatan  as kode_kecamatan,
        kecamatan.nama       as nama_kecamatan,
        desa.kode_bps        as kode_bps
    from desa
    join kecamatan on kecamatan.kode = desa.kode_kecamatan
)

select * from final
