// Every bot module, for the catalogue. Add new bots here.
import type { BotModule } from "../bot-runtime/src/sdk/bot.ts";
import alienvaultOtxCollector from "./collectors/alienvault-otx.ts";
import amqpCollector from "./collectors/amqp.ts";
import apiCollector from "./collectors/api.ts";
import fileCollector from "./collectors/file.ts";
import ftpCollector from "./collectors/ftp.ts";
import ftpsCollector from "./collectors/ftps.ts";
import githubApiCollector from "./collectors/github-api.ts";
import httpCollector from "./collectors/http.ts";
import httpStreamCollector from "./collectors/http-stream.ts";
import mailAttachCollector from "./collectors/mail-attach.ts";
import mailBodyCollector from "./collectors/mail-body.ts";
import mailUrlCollector from "./collectors/mail-url.ts";
import mispCollector from "./collectors/misp.ts";
import rtCollector from "./collectors/rt.ts";
import shadowserverReportsCollector from "./collectors/shadowserver-reports-api.ts";
import tcpCollector from "./collectors/tcp.ts";
import aggregate from "./experts/aggregate.ts";
import asnLookup from "./experts/asn-lookup.ts";
import cymruWhois from "./experts/cymru-whois.ts";
import deduplicator from "./experts/deduplicator.ts";
import domainSuffix from "./experts/domain-suffix.ts";
import fieldReducer from "./experts/field-reducer.ts";
import filterExpert from "./experts/filter.ts";
import formatField from "./experts/format-field.ts";
import gethostbyname from "./experts/gethostbyname.ts";
import maxmindGeoip from "./experts/maxmind-geoip.ts";
import modify from "./experts/modify.ts";
import passthrough from "./experts/passthrough.ts";
import removeAffix from "./experts/remove-affix.ts";
import reverseDns from "./experts/reverse-dns.ts";
import rfc1918 from "./experts/rfc1918.ts";
import sieve from "./experts/sieve.ts";
import taxonomy from "./experts/taxonomy.ts";
import threshold from "./experts/threshold.ts";
import truncateByDelimiter from "./experts/truncate-by-delimiter.ts";
import urlExpert from "./experts/url.ts";
import amqpTopicOutput from "./outputs/amqp-topic.ts";
import blackholeOutput from "./outputs/blackhole.ts";
import elasticsearchOutput from "./outputs/elasticsearch.ts";
import fileOutput from "./outputs/file.ts";
import filesOutput from "./outputs/files.ts";
import mongodbOutput from "./outputs/mongodb.ts";
import redisOutput from "./outputs/redis.ts";
import restapiOutput from "./outputs/restapi.ts";
import smtpOutput from "./outputs/smtp.ts";
import smtpBatchOutput from "./outputs/smtp-batch.ts";
import splunkHecOutput from "./outputs/splunk-hec.ts";
import sqlOutput from "./outputs/sql.ts";
import tcpOutput from "./outputs/tcp.ts";
import udpOutput from "./outputs/udp.ts";
import feodotracker from "./parsers/abusech-feodotracker.ts";
import alienvaultOtx from "./parsers/alienvault-otx.ts";
import alienvaultReputation from "./parsers/alienvault-reputation.ts";
import blocklistde from "./parsers/blocklistde.ts";
import cymruCap from "./parsers/cymru-cap.ts";
import cymruFullBogons from "./parsers/cymru-full-bogons.ts";
import genericCsv from "./parsers/generic-csv.ts";
import htmlTable from "./parsers/html-table.ts";
import jsonParser from "./parsers/json.ts";
import keyValue from "./parsers/key-value.ts";
import misp from "./parsers/misp.ts";
import openphish from "./parsers/openphish.ts";
import openphishCommercial from "./parsers/openphish-commercial.ts";
import phishtank from "./parsers/phishtank.ts";
import shadowserver from "./parsers/shadowserver.ts";
import spamhausCert from "./parsers/spamhaus-cert.ts";
import spamhausDrop from "./parsers/spamhaus-drop.ts";

export const ALL_BOTS: readonly BotModule[] = [
  fileCollector,
  httpCollector,
  httpStreamCollector,
  apiCollector,
  githubApiCollector,
  rtCollector,
  mispCollector,
  alienvaultOtxCollector,
  shadowserverReportsCollector,
  mailAttachCollector,
  mailUrlCollector,
  mailBodyCollector,
  amqpCollector,
  tcpCollector,
  ftpCollector,
  ftpsCollector,
  blocklistde,
  feodotracker,
  genericCsv,
  openphish,
  openphishCommercial,
  phishtank,
  spamhausCert,
  spamhausDrop,
  misp,
  alienvaultReputation,
  alienvaultOtx,
  cymruCap,
  cymruFullBogons,
  jsonParser,
  keyValue,
  htmlTable,
  shadowserver,
  // experts: classification and filtering
  taxonomy,
  filterExpert,
  sieve,
  modify,
  deduplicator,
  threshold,
  aggregate,
  // experts: enrichment
  asnLookup,
  maxmindGeoip,
  cymruWhois,
  gethostbyname,
  reverseDns,
  urlExpert,
  domainSuffix,
  rfc1918,
  // experts: reshaping fields
  fieldReducer,
  formatField,
  removeAffix,
  truncateByDelimiter,
  passthrough,
  // outputs: files and streams
  fileOutput,
  filesOutput,
  tcpOutput,
  udpOutput,
  amqpTopicOutput,
  restapiOutput,
  smtpOutput,
  smtpBatchOutput,
  // outputs: stores
  sqlOutput,
  elasticsearchOutput,
  mongodbOutput,
  redisOutput,
  splunkHecOutput,
  blackholeOutput,
];
