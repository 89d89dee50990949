-- Reference region list (Kepmendagri 300.2.2-2138/2025): one row per kecamatan or desa/kelurahan code.
with source as (
    select * from landing.wilayah
),

final as (
    select
        kode,
        nama,
        jenis,
        kode_kecamatan,
        kode_bps,
        nama_bps
    from source
)

select * from final
