-- Recording events with domicile kecamatan and wajib-KTP status: one row per loaded row.
with rekam as (
    select * from staging.rekam
),

desa as (
    select * from core.desa
),

final as (
    select
        rekam.person_id,
        rekam.waktu_rekam,
        rekam.tanggal_rekam,
        rekam.jenis_rekam,
        rekam.lokasi_rekam,
        rekam.id_alat,
        rekam.kode_desa,
        desa.kode_kecamatan,
        desa.kode_kabupaten,
        rekam.jenis_kelamin,
        rekam.umur,
        rekam.status_kawin,
        -- UU 24/2013 Pasal 63: 17 or older, or married / formerly married, at the recording
        (rekam.umur >= 17 or rekam.status_kawin <> 'BELUM KAWIN') as wajib_ktp,
        rekam.source_file,
        -- the kecamatan whose log listed the row (the file name), not the person's domicile
        regexp_extract(rekam.source_file, '^rekam/[0-9]{4}-[0-9]{2}-[0-9]{2}/([0-9]{2}\.[0-9]{2}\.[0-9]{2})\.csv$', 1) as kode_kecamatan_file,
        -- and its kab/kota (a device is an id_alat within a kab/kota, contract section 9)
        regexp_extract(rekam.source_file, '^rekam/[0-9]{4}-[0-9]{2}-[0-9]{2}/([0-9]{2}\.[0-9]{2})\.[0-9]{2}\.csv$', 1) as kode_kabupaten_file,
        rekam.line_number
    from rekam
    join desa on desa.kode_desa = rekam.kode_desa
)

select * from final
