update comment = 'updated'
update source.port = 2222
update extra.tags = 'updated tags'
update source.fqdn = 'Updated.Example.COM.'
update extra.absent = 'never added'
