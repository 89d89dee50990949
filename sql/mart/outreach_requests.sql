-- Village requests, open or served: one row per request (kode_desa x nomor_surat x tanggal_daftar).
-- Served on the first date on or after registration with a loaded JEMPUT_BOLA row of a resident of the desa.
with requests as (
    select * from staging.permohonan
),

visits as (
    select kode_desa, tanggal from core.jemput_bola_visit
),

range_end as (
    select max(tanggal) as last_date from core.date_spine
),

served as (
    select
        requests.tanggal_daftar,
        requests.tanggal_surat,
        requests.nomor_surat,
        requests.kode_desa,
        requests.perkiraan_warga,
        min(visits.tanggal) as tanggal_dilayani
    from requests
    left join visits
        on visits.kode_desa = requests.kode_desa and visits.tanggal >= requests.tanggal_daftar
    group by all
),

final as (
    select
        cast(served.tanggal_daftar as date)    as tanggal_daftar,
        cast(served.tanggal_surat as date)     as tanggal_surat,
        served.nomor_surat,
        desa.kode_kabupaten,
        desa.kode_kecamatan,
        served.kode_desa,
        desa.nama_desa,
        cast(served.perkiraan_warga as integer) as perkiraan_warga,
        cast(served.tanggal_dilayani as date)  as tanggal_dilayani,
        cast(case
            when served.tanggal_dilayani is not null then served.tanggal_dilayani - served.tanggal_daftar
            when range_end.last_date is null then null          -- no log loaded yet: no range to wait in
            else greatest(range_end.last_date - served.tanggal_daftar, 0)
        end as integer)                        as hari_menunggu
    from served
    cross join range_end
    join core.desa as desa on desa.kode_desa = served.kode_desa
)

select * from final order by tanggal_daftar, kode_desa, nomor_surat
