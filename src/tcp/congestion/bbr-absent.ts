/**
 * What the stack-alone browser bundle (dist/browser/stack.js) builds in place of bbr.ts:
 * no BBR. Linux builds BBR as a module (tcp_bbr) beside the built-in Reno and CUBIC, and
 * TCP_CONGESTION "bbr" fails with ENOENT until it is loaded; the same happens here, and a page
 * that wants BBR takes sockstack.js, which has it. scripts/build-browser.ts substitutes this
 * file for bbr.ts in that one bundle; everything else imports the real one.
 */
export const Bbr: undefined = undefined;
