-- severity: bug. Every loaded row comes from exactly one (source_file, line_number): nothing is loaded twice.
select source_file, line_number, count(*) as n from landing.rekam group by all having count(*) > 1
