import { Column, Entity, PrimaryColumn } from 'typeorm';
import { TEXT, uuidColumn } from './portable-columns';

/** An OAuth client allowed to ask for tokens. Only a hash of its secret is stored. */
@Entity({ name: 'api_clients' })
export class ApiClientEntity {
  @PrimaryColumn({ type: 'uuid', transformer: uuidColumn }) id: string;
  @Column({ name: 'client_id', type: TEXT, length: 64 }) clientId: string;
  @Column({ type: TEXT, length: 100 }) name: string;
  @Column({ name: 'secret_hash', type: TEXT, length: 255 }) secretHash: string;
  /** Space-separated, as in OAuth. */
  @Column({ type: TEXT, length: 500 }) scopes: string;
  @Column({ name: 'created_at', type: Date }) createdAt: Date;
  @Column({ name: 'disabled_at', type: Date, nullable: true }) disabledAt: Date | null;
  /** Comma-separated tenant ids this client may act in; null: every tenant. */
  @Column({ type: TEXT, length: 1000, nullable: true }) tenants: string | null;
}
