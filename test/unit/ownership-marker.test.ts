import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { MARKER_KIND, ownershipMarker, parseOwnershipMarker } from '../../worker/engines/engine';

describe('ownership markers', () => {
  it('reads back the instance id it was written with', () => {
    const id = randomUUID();
    expect(parseOwnershipMarker(ownershipMarker(id))).to.equal(id);
  });

  it('is JSON naming the manager and the instance', () => {
    const id = randomUUID();
    expect(JSON.parse(ownershipMarker(id))).to.deep.equal({ managedBy: MARKER_KIND, instanceId: id });
  });

  it('tells two instances apart', () => {
    const a = randomUUID();
    const b = randomUUID();
    expect(parseOwnershipMarker(ownershipMarker(a))).not.to.equal(b);
  });

  describe('comments that are not ours', () => {
    const foreign: Record<string, string | null | undefined> = {
      'no comment (null)': null,
      'no comment (undefined)': undefined,
      'an empty comment': '',
      'free text': 'Production ODS for Grand Bend ISD',
      'text that merely mentions the manager': 'created by ods-instance-manager for 1234',
      "another tool's JSON": JSON.stringify({ managedBy: 'other-tool', instanceId: 'abc' }),
      'our kind without an instance id': JSON.stringify({ managedBy: MARKER_KIND }),
      'a numeric instance id': JSON.stringify({ managedBy: MARKER_KIND, instanceId: 42 }),
      'a null instance id': JSON.stringify({ managedBy: MARKER_KIND, instanceId: null }),
      'the kind in other letter case': JSON.stringify({ managedBy: MARKER_KIND.toUpperCase(), instanceId: 'abc' }),
      'JSON null': 'null',
      'a JSON string': JSON.stringify(MARKER_KIND),
      'a JSON array': JSON.stringify([MARKER_KIND, 'abc']),
      'truncated JSON': ownershipMarker('abc').slice(0, -2),
    };
    for (const [what, text] of Object.entries(foreign)) {
      it(`finds no owner in ${what}`, () => {
        expect(parseOwnershipMarker(text)).to.equal(null);
      });
    }
  });
});
