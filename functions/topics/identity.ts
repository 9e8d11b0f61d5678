import type avro from 'avsc';
import { CONSENT, type Consent } from './navigation';

/** The `identity` topic's value: a cookie linked to a known user. A tombstone (null value) erases the link. */
export const IDENTITY_LINK_V1: avro.Schema = {
  type: 'record',
  name: 'IdentityLink',
  namespace: 'com.example.events',
  fields: [
    { name: 'cookieId', type: 'string' },
    { name: 'userId', type: 'string' },
    { name: 'emailSha256', type: ['null', 'string'], default: null },
    { name: 'source', type: { type: 'enum', name: 'IdentitySource', symbols: ['LOGIN', 'CRM', 'PARTNER'] } },
    {
      name: 'consent',
      type: CONSENT,
    },
    { name: 'eventTime', type: { type: 'long', logicalType: 'timestamp-millis' } },
  ],
} as avro.Schema;

export interface IdentityLink {
  cookieId: string;
  userId: string;
  emailSha256: string | null;
  source: 'LOGIN' | 'CRM' | 'PARTNER';
  consent: Consent;
  /** Epoch milliseconds. */
  eventTime: number;
}
