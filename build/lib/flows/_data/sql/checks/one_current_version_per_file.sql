-- severity: bug. audit.file_loads has at most one current (not superseded) version per file, and loaded rows belong to it.
select source_file, 'several current versions' as problem from audit.file_loads where status <> 'superseded' group by source_file having count(*) > 1
union all
select distinct r.source_file, 'rows of a version that is not current' as problem
from landing.rekam r
left join audit.file_loads f on f.source_file = r.source_file and f.sha256 = r.file_sha256 and f.status = 'loaded'
where f.source_file is null
