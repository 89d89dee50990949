-- severity: bug. mart.device_activity has one row per as_of_date x kab/kota x id_alat, never before the device was first seen.
select as_of_date, kode_kabupaten, id_alat, 'several rows' as problem from mart.device_activity group by all having count(*) > 1
union all
select as_of_date, kode_kabupaten, id_alat, 'before first seen or after last' as problem from mart.device_activity
where pertama_aktif > as_of_date or terakhir_aktif > as_of_date or terakhir_aktif < pertama_aktif or hari_diam < 0
