import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultDenied, parseWispRule, WispPolicy } from '../../src/node/wisp-policy.ts';

describe('wisp allow-list', () => {
  it('the default refuses link-local, metadata, unspecified, multicast and broadcast; allows the rest', () => {
    for (const a of [
      '169.254.169.254',
      '169.254.0.1',
      'fe80::1',
      'fd00:ec2::254',
      '0.0.0.0',
      '::',
      '224.0.0.251',
      'ff02::1',
      '255.255.255.255',
      '::ffff:169.254.169.254',
    ])
      assert.ok(defaultDenied(a), a);
    for (const a of ['127.0.0.1', '::1', '10.1.2.3', '192.168.0.1', '93.184.216.34', '2001:db8::1'])
      assert.ok(!defaultDenied(a), a);
    assert.ok(defaultDenied('not-an-address'));
    const p = new WispPolicy();
    assert.ok(p.allows('example.com', '93.184.216.34', 443));
    assert.ok(
      !p.allows('metadata.internal', '169.254.169.254', 80),
      'a name cannot smuggle a denied address in',
    );
  });

  it('rules: addresses, prefixes, names, wildcards and port ranges', () => {
    const p = new WispPolicy([
      '127.0.0.1:7',
      '10.0.0.0/8:1000-2000',
      '[::1]:*',
      'echo.test:9',
      '*.example.com:443',
    ]);
    assert.ok(p.allows('127.0.0.1', '127.0.0.1', 7));
    assert.ok(!p.allows('127.0.0.1', '127.0.0.1', 8));
    assert.ok(!p.allows('127.0.0.2', '127.0.0.2', 7));
    assert.ok(p.allows('10.9.9.9', '10.9.9.9', 1500));
    assert.ok(!p.allows('10.9.9.9', '10.9.9.9', 2001));
    assert.ok(p.allows('::1', '::1', 65535));
    assert.ok(
      p.allows('ECHO.test', '192.0.2.1', 9),
      'names match case-insensitively, whatever they resolve to',
    );
    assert.ok(p.allows('www.example.com', '192.0.2.2', 443));
    assert.ok(!p.allows('example.com', '192.0.2.2', 443), '*.example.com is its subdomains');
    assert.ok(!p.allows('169.254.169.254', '169.254.169.254', 80));
    assert.match(p.describe(), /^only 127\.0\.0\.1:7, /);
    assert.ok(
      new WispPolicy(['*:*']).allows('x', '169.254.169.254', 80),
      'an explicit *:* allows everything',
    );
  });

  it('malformed rules throw an Error with a code naming the rule', () => {
    for (const bad of [
      'nohost',
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:70000',
      '1.2.3.4:9-3',
      '10.0.0.0/33:1',
      '::1:80',
      'a b:1',
      ':80',
    ]) {
      assert.throws(
        () => parseWispRule(bad),
        (e: Error & { code?: string }) => {
          assert.equal(e.code, 'ERR_INVALID_ARG_VALUE');
          assert.ok(e.message.includes(`'${bad}'`), e.message);
          return true;
        },
        bad,
      );
    }
  });
});
