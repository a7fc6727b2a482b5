#!/usr/bin/python3
"""Generates the botocore SigV4 vectors embedded in src/api/sigv4_test.cc.

Run with the system interpreter, which has botocore installed:

    /usr/bin/python3 tests/tools/sigv4_vectors.py > /tmp/vectors.inc

It prints C++ initialisers for `BotoVector` (see sigv4_test.cc). The signing time is frozen by
replacing `botocore.auth.datetime` with a class whose utcnow() is fixed, and uuid4 is pinned so
the amz-sdk-invocation-id header is stable: rerunning gives the same output for the same
botocore version (1.29.27 when the vectors were frozen). It also prints, as comments, the
intermediate values of AWS's published IAM ListUsers example and of the aws-sig-v4-test-suite
get-vanilla case so the constants in the test can be checked against botocore.
"""

import datetime
import hashlib
import hmac
import sys
import types
import uuid
from unittest import mock
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.session
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

AKID = 'AKIDEXAMPLE'
SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
ENDPOINT = 'https://127.0.0.1:8443'


class FrozenDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return cls(2015, 8, 30, 12, 36, 0)


class frozen:
    """Freezes the clock of botocore's Python signers and of its awscrt-backed signers."""

    def __enter__(self):
        ns = types.SimpleNamespace(datetime=FrozenDatetime, timezone=datetime.timezone)
        self.patches = [mock.patch('botocore.auth.datetime', ns)]
        try:
            import botocore.crt.auth  # noqa: F401  (only when awscrt is installed)
            self.patches.append(mock.patch('botocore.crt.auth.datetime', ns))
        except ImportError:
            pass
        for p in self.patches:
            p.start()

    def __exit__(self, *exc):
        for p in self.patches:
            p.stop()


def c_string(s):
    if isinstance(s, bytes):
        s = s.decode('utf-8')
    out = []
    for b in s.encode('utf-8'):
        ch = chr(b)
        if ch in '"\\':
            out.append('\\' + ch)
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append('\\%03o' % b)
    return '"' + ''.join(out) + '"'


def emit(name, method, url, headers, body, region, service, note):
    """Prints one vector as the request a server receives."""
    parts = urlsplit(url)
    hdrs = list(headers)
    if not any(k.lower() == 'host' for k, _ in hdrs):
        # The HTTP client (urllib3) adds Host after signing; botocore signed the same value.
        hdrs.insert(0, ('Host', botocore.auth._host_from_url(url)))
    print('    // %s' % note)
    print('    {%s, %s, %s, %s, %s,' % (c_string(name), c_string(method), c_string(parts.path),
                                       c_string(parts.query), c_string(region)))
    print('     %s,' % c_string(service))
    print('     {')
    for k, v in hdrs:
        print('         {%s, %s},' % (c_string(k), c_string(v)))
    print('     },')
    print('     %s},' % c_string(body or b''))


def sign_header(method, url, headers, body, region, service, params=None):
    req = AWSRequest(method=method, url=url, headers=headers, data=body, params=params)
    with frozen():
        botocore.auth.SigV4Auth(Credentials(AKID, SECRET), service, region).add_auth(req)
    prepared = req.prepare()
    return prepared.url, list(prepared.headers.items()), prepared.body


def client_capture(region, operation, params):
    """What botocore's elbv2 client sends for one call (intercepted before the socket)."""
    session = botocore.session.get_session()
    client = session.create_client('elbv2', region_name=region, endpoint_url=ENDPOINT,
                                   aws_access_key_id=AKID, aws_secret_access_key=SECRET)
    captured = {}

    class Stop(Exception):
        pass

    def before_send(request, **kwargs):
        captured['req'] = request
        raise Stop()

    client.meta.events.register('before-send', before_send)
    fixed_uuid = uuid.UUID('12345678-1234-5678-1234-567812345678')
    with frozen(), mock.patch('uuid.uuid4', return_value=fixed_uuid):
        try:
            getattr(client, operation)(**params)
        except Stop:
            pass
    r = captured['req']
    return r.method, r.url, list(r.headers.items()), r.body


def client_presign(region, operation, params, expires):
    session = botocore.session.get_session()
    client = session.create_client('elbv2', region_name=region, endpoint_url=ENDPOINT,
                                   aws_access_key_id=AKID, aws_secret_access_key=SECRET)
    with frozen():
        return client.generate_presigned_url(operation, Params=params, ExpiresIn=expires,
                                             HttpMethod='GET')


def print_reference_examples():
    # AWS's IAM ListUsers example from the SigV4 documentation.
    req = AWSRequest(method='GET', url='https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08',
                     headers={'Content-Type': 'application/x-www-form-urlencoded; charset=utf-8',
                              'X-Amz-Date': '20150830T123600Z'})
    req.context['timestamp'] = '20150830T123600Z'
    signer = botocore.auth.SigV4Auth(Credentials(AKID, SECRET), 'iam', 'us-east-1')
    cr = signer.canonical_request(req)
    sts = signer.string_to_sign(req, cr)
    k = ('AWS4' + SECRET).encode()
    for part in ('20150830', 'us-east-1', 'iam', 'aws4_request'):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    print('// IAM ListUsers: canonical request sha256 %s' % hashlib.sha256(cr.encode()).hexdigest())
    print('// IAM ListUsers: signing key %s' % k.hex())
    print('// IAM ListUsers: signature %s' % signer.signature(sts, req))
    url, headers, _ = sign_header('GET', 'https://example.amazonaws.com/', {}, b'', 'us-east-1',
                                  'service')
    print('// get-vanilla: %s' % dict(headers)['Authorization'])


def main():
    print('// Generated by tests/tools/sigv4_vectors.py with botocore %s.' % botocore.__version__)
    print_reference_examples()
    form = 'application/x-www-form-urlencoded; charset=utf-8'

    m, u, h, b = client_capture('us-east-1', 'describe_load_balancers', {'Names': ['my-lb']})
    emit('ClientDescribeLoadBalancers', m, u, h, b, 'us-east-1', 'elasticloadbalancing',
         'elbv2 client, DescribeLoadBalancers (POST / with a form body)')

    m, u, h, b = client_capture('eu-west-1', 'create_target_group',
                                {'Name': 'tg one', 'Protocol': 'HTTP', 'Port': 80,
                                 'VpcId': 'vpc-1', 'HealthCheckPath': '/health?x=1&y=~*'})
    emit('ClientCreateTargetGroup', m, u, h, b, 'eu-west-1', 'elasticloadbalancing',
         'elbv2 client, CreateTargetGroup in eu-west-1 (form body with escapes)')

    params = [('Action', 'DescribeLoadBalancers'), ('Version', '2015-12-01'),
              ('Names.member.1', 'a b/c~d*e'), ('Marker', 'caf\u00e9 \u2603'),
              ('Empty', ''), ('Names.member.2', 'x+y=z&w')]
    u, h, b = sign_header('GET', ENDPOINT + '/', {'Content-Type': form}, b'', 'us-east-1',
                          'elasticloadbalancing', params=params)
    emit('GetQueryEscapes', 'GET', u, h, b, 'us-east-1', 'elasticloadbalancing',
         'SigV4Auth, GET with spaces, /, ~, *, +, =, & and non-ASCII in query values')

    u, h, b = sign_header('POST', ENDPOINT + '/', {'Content-Type': form, 'Date': 'x'},
                          b'Action=DescribeTargetGroups&Version=2015-12-01', 'us-east-1',
                          'elasticloadbalancing')
    emit('PostDateHeader', 'POST', u, h, b, 'us-east-1', 'elasticloadbalancing',
         'SigV4Auth, POST dated by a Date header (RFC 2822, "-0000") instead of X-Amz-Date')

    u, h, b = sign_header('GET', ENDPOINT + '/a%20b/./c//d/', {}, b'', 'us-east-1',
                          'elasticloadbalancing')
    emit('GetOddPath', 'GET', u, h, b, 'us-east-1', 'elasticloadbalancing',
         'SigV4Auth, GET of a path with an escape, a dot segment and a double slash')

    req = AWSRequest(method='GET', url=ENDPOINT + '/',
                     params=[('Action', 'DescribeLoadBalancers'), ('Version', '2015-12-01'),
                             ('Names.member.1', 'my lb')])
    with frozen():
        botocore.auth.SigV4QueryAuth(Credentials(AKID, SECRET), 'elasticloadbalancing',
                                     'us-east-1', expires=300).add_auth(req)
    p = req.prepare()
    emit('Presigned', 'GET', p.url, list(p.headers.items()), p.body, 'us-east-1',
         'elasticloadbalancing', 'SigV4QueryAuth, presigned GET, X-Amz-Expires=300')

    url = client_presign('us-east-1', 'describe_target_groups', {'Names': ['tg one']}, 900)
    emit('ClientPresigned', 'GET', url, [], b'', 'us-east-1', 'elasticloadbalancing',
         'elbv2 client generate_presigned_url, GET, ExpiresIn=900')


if __name__ == '__main__':
    sys.exit(main())
