-- severity: bug. mart.kecamatan_service holds every kecamatan of the reference list once on every date of the range.
with counts as (
    select spine.tanggal, (select count(*) from mart.kecamatan_service s where s.as_of_date = spine.tanggal) as n,
           (select count(distinct kode_kecamatan) from mart.kecamatan_service s where s.as_of_date = spine.tanggal) as k
    from core.date_spine as spine
)
select counts.* from counts where n <> (select count(*) from core.kecamatan) or k <> n
