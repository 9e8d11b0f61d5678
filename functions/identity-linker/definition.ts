import type avro from 'avsc';
import {
  type Env,
  type ProcessorDefinition,
  requireEventTime,
  statement,
  ValidationError,
  writeTimestamp,
} from '../../lib/runtime';
import type { IdentityLink } from '../topics/identity';
import { CONSENT } from '../topics/navigation';

/**
 * identity-linker (topic `identity`, key cookie id): who a cookie is. Upserts `identities` with the event time as
 * write time, so a replayed or late older event never overwrites a newer one; a tombstone (privacy erasure) deletes
 * the cookie's row, written at the record's Kafka time.
 */
export const READER_SCHEMA: avro.Schema = {
  type: 'record',
  name: 'IdentityLink',
  namespace: 'com.example.events',
  fields: [
    { name: 'cookieId', type: 'string' },
    { name: 'userId', type: 'string' },
    { name: 'emailSha256', type: ['null', 'string'], default: null },
    {
      name: 'source',
      type: { type: 'enum', name: 'IdentitySource', symbols: ['LOGIN', 'CRM', 'PARTNER', 'OTHER'], default: 'OTHER' },
    },
    {
      name: 'consent',
      type: CONSENT,
    },
    { name: 'eventTime', type: 'long' },
  ],
} as avro.Schema;

const UPSERT = statement(
  'identities.upsert',
  'INSERT INTO identities (cookie_id, user_id, email_sha256, source, consent, event_time) VALUES (?, ?, ?, ?, ?, ?)',
  { idempotent: true },
);
const ERASE = statement('identities.delete', 'DELETE FROM identities WHERE cookie_id = ?', { idempotent: true });

export const identityLinker: ProcessorDefinition<IdentityLink> = {
  name: 'identity-linker',
  process(link, record) {
    if (!link.cookieId || !link.userId) throw new ValidationError('an identity link needs a cookie id and a user id');
    requireEventTime(link.eventTime);
    return [
      {
        statement: UPSERT,
        params: [link.cookieId, link.userId, link.emailSha256, link.source, link.consent, new Date(link.eventTime)],
        orderKey: link.cookieId,
        timestamp: writeTimestamp(link.eventTime, record.offset),
      },
    ];
  },
  tombstone(record) {
    if (!record.key) throw new ValidationError('a tombstone without a key erases nothing');
    return [
      {
        statement: ERASE,
        params: [record.key],
        orderKey: record.key,
        timestamp: writeTimestamp(record.timestamp, record.offset),
      },
    ];
  },
};

/** The definition as its handler builds it (identity-linker has no settings of its own). */
export function fromEnvironment(_env: Env): ProcessorDefinition<IdentityLink> {
  return identityLinker;
}
