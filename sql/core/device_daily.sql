-- Device use: one row per kab/kota x id_alat x tanggal x kecamatan of the log that listed it (a device is an id_alat within a kab/kota) (every loaded row, whatever its place or kind).
with recording as (
    select * from core.recording
),

final as (
    select
        kode_kabupaten_file                                       as kode_kabupaten,
        id_alat,
        tanggal_rekam                                             as tanggal,
        kode_kecamatan_file                                       as kode_kecamatan,
        count(*)                                                  as rekam,
        count(*) filter (where lokasi_rekam = 'KECAMATAN')        as rekam_kecamatan
    from recording
    where tanggal_rekam >= (select first_date from core.build_scope)   -- the dates this build rebuilds
    group by all
)

select * from final
