-- severity: bug. mart.log_completeness has one row per tanggal x kode_kecamatan.
select tanggal, kode_kecamatan, count(*) as n from mart.log_completeness group by all having count(*) > 1
