-- severity: bug. mart.participation_trend has one row per tanggal x kode_kecamatan.
select tanggal, kode_kecamatan, count(*) as n from mart.participation_trend group by all having count(*) > 1
